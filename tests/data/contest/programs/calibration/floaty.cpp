// Calibration workload: floating-point arithmetic with sqrt. Input: iterations.
#include <bits/stdc++.h>
using namespace std;
int main(){ long long n; cin>>n; double s=0, a=1.0; for(long long i=0;i<n;i++){ a = a*1.0000001 + 1e-9; s += sqrt(a) * 0.5 + (double)(i&7); if(a>2) a=1; } printf("%f\n", s); }
