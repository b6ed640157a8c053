from iotcmd.app import main

main()
