from customhouse.cli.main import main

main()
