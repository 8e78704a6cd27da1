from hyperfields_cli.cli import main

main()
