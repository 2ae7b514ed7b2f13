// AHC039 starter: split the square into a 10 x 10 grid, count mackerels minus
// sardines in each cell, and enclose the best cell with a rectangle.
#include <bits/stdc++.h>
using namespace std;

int main() {
    int n;
    if (!(cin >> n)) return 1;
    const int G = 10, D = 100000, W = D / G;
    vector<vector<int>> gain(G, vector<int>(G, 0));
    for (int i = 0; i < 2 * n; i++) {
        int x, y;
        cin >> x >> y;
        int gx = min(x / W, G - 1), gy = min(y / W, G - 1);
        gain[gx][gy] += i < n ? 1 : -1;
    }
    int bx = 0, by = 0;
    for (int x = 0; x < G; x++)
        for (int y = 0; y < G; y++)
            if (gain[x][y] > gain[bx][by]) bx = x, by = y;
    int x0 = bx * W, y0 = by * W, x1 = x0 + W - 1, y1 = y0 + W - 1;
    printf("4\n%d %d\n%d %d\n%d %d\n%d %d\n", x0, y0, x1, y0, x1, y1, x0, y1);
}
