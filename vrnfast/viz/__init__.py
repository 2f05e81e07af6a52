"""What a person looks at: previews rendered by a numpy rasteriser (render), matplotlib figures
(plot), and self-contained HTML pages of a face in 3-D (pages, with the vendored viewer/)."""
