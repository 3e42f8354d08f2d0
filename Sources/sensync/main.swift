import SENSyncCommands

SENSyncCommand.main()
