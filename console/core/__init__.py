"""restore-core: everything the console does, with no user-interface import below this package.

The TUI, the command line and nuke mode all call these functions; a test checks that importing
this package loads neither textual nor rich.
"""
