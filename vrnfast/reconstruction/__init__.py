"""Photos to meshes: the Reconstructor (a checkpoint ready to mesh face images), finding faces
(faces: dlib, the "faces" extra), framing them and the record of each (framing), and what
`vrnfast reconstruct` reads (sources: files, folders, video frames)."""
