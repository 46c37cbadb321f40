"""Small utilities shared by every lab: page parts, device detection, optional imports,
upload checks and running coroutines from sync code. Each module does one thing."""
