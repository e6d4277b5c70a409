"""The `challenger` command line: library first, each command calls a public function."""
