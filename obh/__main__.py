from obh.cli import main

main()
