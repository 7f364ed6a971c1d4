"""Feed converters: each turns an upstream format into OSV records."""
