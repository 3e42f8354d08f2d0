import ArgumentParser
import SENSync
public struct SENSyncCommand: ParsableCommand { public init() {} }
