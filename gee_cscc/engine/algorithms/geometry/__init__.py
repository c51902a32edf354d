"""``Geometry.*`` algorithms, geometry constructors and the geodesy they share."""
