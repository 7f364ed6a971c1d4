#!/bin/sh
echo "hello from the customhouse demo image"
