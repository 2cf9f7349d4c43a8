"""Real and synthetic datasets: MNIST / Fashion-MNIST loading, downsampling, labels, whitening, statistics."""
