// AHC058 starter: each turn, strengthen the level-0 machine that pays for itself
// soonest, if it can be paid now and repays before the end; otherwise wait.
#include <bits/stdc++.h>
using namespace std;

int main() {
    int N, L, T;
    long long K;
    cin >> N >> L >> T >> K;
    vector<long long> A(N);
    for (auto &a : A) cin >> a;
    vector<vector<long long>> C(L, vector<long long>(N));
    for (auto &row : C)
        for (auto &c : row) cin >> c;
    vector<vector<long long>> B(L, vector<long long>(N, 1)), P(L, vector<long long>(N, 0));
    long long S = K;
    for (int t = 0; t < T; t++) {
        int best = -1;
        double best_payback = 1e18;
        for (int j = 0; j < N; j++) {
            long long cost = C[0][j] * (P[0][j] + 1);
            if (cost > S) continue;
            double per_turn = (double)A[j] * B[0][j];
            double payback = cost / per_turn;
            if (payback < T - t - 1 && payback < best_payback) best_payback = payback, best = j;
        }
        if (best >= 0) {
            S -= C[0][best] * (P[0][best] + 1);
            P[0][best]++;
            printf("0 %d\n", best);
        } else {
            printf("-1\n");
        }
        for (int i = 0; i < L; i++)
            for (int j = 0; j < N; j++) {
                if (i == 0) S += A[j] * B[0][j] * P[0][j];
                else B[i - 1][j] += B[i][j] * P[i][j];
            }
    }
}
