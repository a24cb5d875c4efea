"""The optimisation parts every engine shares: objectives, the loop, image parameterisations,
robustness transforms, stopping rules, the canvas, tiling and colour."""
