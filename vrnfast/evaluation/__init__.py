"""The paper's evaluation: NME after ICP and IoU beside the mean-shape baseline (protocol), and the
report page of a run of it (report)."""
