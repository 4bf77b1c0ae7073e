pub struct Landscape;
