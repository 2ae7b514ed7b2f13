// Calibration workload: sorting and std::map (the standard library). Input: rounds.
#include <bits/stdc++.h>
using namespace std;
int main(){ long long n; cin>>n; mt19937 rng(1); long long s=0; for(int r=0;r<n;r++){ vector<int> v(100000); for(auto&x:v) x=rng(); sort(v.begin(),v.end()); map<int,int> m; for(int i=0;i<20000;i++) m[v[i]%1000]++; s+=m.size()+v[5]; } printf("%lld\n", s); }
