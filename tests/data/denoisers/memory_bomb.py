def denoise(X):
    chunks = []
    while True:
        chunks.append(bytearray(256 << 20))
