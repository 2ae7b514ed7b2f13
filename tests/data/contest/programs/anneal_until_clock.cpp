// AHC039 by hill climbing on one rectangle until the clock says 1.9 s: the
// shape of a contest program whose answer depends on how much work fits in its
// time. Seeded from std::random_device, as contest programs often are.
#include <bits/stdc++.h>
using namespace std;

int main() {
    auto start = chrono::steady_clock::now();
    auto elapsed = [&] { return chrono::duration<double>(chrono::steady_clock::now() - start).count(); };
    int n;
    cin >> n;
    vector<array<int, 3>> pts(2 * n);
    for (int i = 0; i < 2 * n; i++) {
        cin >> pts[i][0] >> pts[i][1];
        pts[i][2] = i < n ? 1 : -1;
    }
    auto value = [&](int x0, int y0, int x1, int y1) {
        int v = 0;
        for (auto& p : pts)
            if (x0 <= p[0] && p[0] <= x1 && y0 <= p[1] && p[1] <= y1) v += p[2];
        return v;
    };
    mt19937 rng(random_device{}());
    int x0 = 40000, y0 = 40000, x1 = 60000, y1 = 60000, best = value(x0, y0, x1, y1);
    long iterations = 0;
    while (elapsed() < 1.9) {
        int step = 200 + rng() % 5000;
        int a = x0, b = y0, c = x1, d = y1;
        switch (rng() % 4) {
            case 0: a += (rng() % 2 ? step : -step); break;
            case 1: b += (rng() % 2 ? step : -step); break;
            case 2: c += (rng() % 2 ? step : -step); break;
            default: d += (rng() % 2 ? step : -step); break;
        }
        a = max(a, 0), b = max(b, 0), c = min(c, 100000), d = min(d, 100000);
        if (a >= c || b >= d) continue;
        int v = value(a, b, c, d);
        if (v >= best) best = v, x0 = a, y0 = b, x1 = c, y1 = d;
        iterations++;
    }
    fprintf(stderr, "%ld iterations\n", iterations);
    printf("4\n%d %d\n%d %d\n%d %d\n%d %d\n", x0, y0, x1, y0, x1, y1, x0, y1);
}
