from dvt_connect.cli.main import main

if __name__ == "__main__":
    main()
