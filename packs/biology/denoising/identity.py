def denoise(X):
    """No denoising: the training counts as they are."""
    return X
