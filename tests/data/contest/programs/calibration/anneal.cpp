// Calibration workload: integer local search on a permutation (branchy ALU work). Input: iterations.
#include <bits/stdc++.h>
using namespace std;
// xorshift-driven local search over a permutation (annealing-like integer work)
int main(){ long long n; cin>>n; uint64_t x=88172645463325252ull; vector<int> p(1000); iota(p.begin(),p.end(),0); long long cost=0;
 for(long long it=0; it<n; it++){ x^=x<<7; x^=x>>9; int i=x%1000, j=(x>>20)%1000; int d=abs(p[i]-i)+abs(p[j]-j)-abs(p[i]-j)-abs(p[j]-i); if(d>0||((x>>40)&255)==0){swap(p[i],p[j]); cost+=d;} }
 printf("%lld\n",cost); }
