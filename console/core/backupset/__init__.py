"""The backup set: its format (manifest), the catalog, the archives (seekable zstd over pax tar),
writing a set (backup), and browsing it (ls, the picker's tree, selections)."""
