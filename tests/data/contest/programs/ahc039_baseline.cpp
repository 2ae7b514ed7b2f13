// AHC039 baseline: a 50 x 50 grid of cells, the sub-rectangle of cells with the
// largest (mackerels - sardines) by 2D Kadane, printed as a rectangle.
#include <bits/stdc++.h>
using namespace std;

int main() {
    int n;
    cin >> n;
    const int G = 50, D = 100000, W = D / G;
    vector<vector<int>> gain(G, vector<int>(G, 0));
    for (int i = 0; i < 2 * n; i++) {
        int x, y;
        cin >> x >> y;
        gain[min(x / W, G - 1)][min(y / W, G - 1)] += i < n ? 1 : -1;
    }
    int best = INT_MIN, bx0 = 0, bx1 = 0, by0 = 0, by1 = 0;
    for (int x0 = 0; x0 < G; x0++) {
        vector<int> col(G, 0);
        for (int x1 = x0; x1 < G; x1++) {
            for (int y = 0; y < G; y++) col[y] += gain[x1][y];
            int run = 0, start = 0;
            for (int y = 0; y < G; y++) {
                if (run <= 0) run = 0, start = y;
                run += col[y];
                if (run > best) best = run, bx0 = x0, bx1 = x1, by0 = start, by1 = y;
            }
        }
    }
    auto lo = [&](int g) { return g * W; };
    auto hi = [&](int g) { return g == G - 1 ? D : (g + 1) * W - 1; };
    printf("4\n%d %d\n%d %d\n%d %d\n%d %d\n", lo(bx0), lo(by0), hi(bx1), lo(by0), hi(bx1), hi(by1), lo(bx0), hi(by1));
}
