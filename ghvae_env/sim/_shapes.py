"""Object shapes of the tabletop scene, shared by the scene and its robosuite task."""

SHAPES = ("box", "cylinder", "ball")
