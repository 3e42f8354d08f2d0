import SENSyncCommands
SENSyncCommand.main()
