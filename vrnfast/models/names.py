"""The models' and presets' names, without torch: what the command line offers and checks before
anything heavy loads."""
MODELS = ("vrn", "guided", "multitask")
PRESET_NAMES = ("tiny", "small", "paper")
