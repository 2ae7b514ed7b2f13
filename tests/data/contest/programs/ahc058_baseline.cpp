// AHC058 baseline: each turn, try every affordable action and "wait", play out
// the remaining turns doing nothing more, and take the action with the most
// apples at the end.
#include <bits/stdc++.h>
using namespace std;

int N, L, T;
vector<long long> A;
vector<vector<long long>> C;

// Apples at the end if nothing more is bought after this turn's production.
double play_out(vector<vector<double>> B, const vector<vector<long long>>& P, double S, int turns) {
    for (int t = 0; t < turns; t++)
        for (int i = 0; i < L; i++)
            for (int j = 0; j < N; j++) {
                if (i == 0) S += A[j] * B[0][j] * P[0][j];
                else B[i - 1][j] += B[i][j] * P[i][j];
            }
    return S;
}

int main() {
    long long K;
    cin >> N >> L >> T >> K;
    A.resize(N);
    for (auto& a : A) cin >> a;
    C.assign(L, vector<long long>(N));
    for (auto& row : C)
        for (auto& c : row) cin >> c;
    vector<vector<long long>> B(L, vector<long long>(N, 1)), P(L, vector<long long>(N, 0));
    long long S = K;
    for (int t = 0; t < T; t++) {
        vector<vector<double>> Bd(L, vector<double>(N));
        for (int i = 0; i < L; i++)
            for (int j = 0; j < N; j++) Bd[i][j] = B[i][j];
        double best = play_out(Bd, P, S, T - t);
        int bi = -1, bj = -1;
        for (int i = 0; i < L; i++)
            for (int j = 0; j < N; j++) {
                long long cost = C[i][j] * (P[i][j] + 1);
                if (cost > S) continue;
                P[i][j]++;
                double v = play_out(Bd, P, (double)(S - cost), T - t);
                P[i][j]--;
                if (v > best) best = v, bi = i, bj = j;
            }
        if (bi >= 0) {
            S -= C[bi][bj] * (P[bi][bj] + 1);
            P[bi][bj]++;
            printf("%d %d\n", bi, bj);
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
