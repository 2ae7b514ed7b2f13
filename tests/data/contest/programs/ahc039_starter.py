# AHC039 in Python: the starter's algorithm (the best cell of a 10 x 10 grid).
import sys
import time
data = sys.stdin.read().split()
n = int(data[0])
G, W = 10, 10000
gain = [[0] * G for _ in range(G)]
for i in range(2 * n):
    x, y = int(data[1 + 2 * i]), int(data[2 + 2 * i])
    gain[min(x // W, G - 1)][min(y // W, G - 1)] += 1 if i < n else -1
bx, by = max(((x, y) for x in range(G) for y in range(G)), key=lambda c: gain[c[0]][c[1]])
x0, y0 = bx * W, by * W
print(4)
print(x0, y0); print(x0 + W - 1, y0); print(x0 + W - 1, y0 + W - 1); print(x0, y0 + W - 1)
print(time.perf_counter(), file=sys.stderr)
