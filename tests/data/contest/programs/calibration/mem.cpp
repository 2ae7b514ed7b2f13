// Calibration workload: random reads and writes over 16 MiB (memory-bound). Input: iterations.
#include <bits/stdc++.h>
using namespace std;
int main(){ long long n; cin>>n; vector<uint32_t> v(1<<22); uint32_t x=1; long long s=0; for(long long i=0;i<n;i++){ x = x*1664525u+1013904223u; v[x>>10] += i; s += v[(x>>12)&((1<<22)-1)]; } printf("%lld\n", s); }
