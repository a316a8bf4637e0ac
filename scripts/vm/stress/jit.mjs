// A JIT-heavy node workload for scripts/vm/stress/loop.sh: for SECONDS (argv[2], default 10) it builds
// many distinct functions, runs each hot enough to climb V8's tiers (Sparkplug, Maglev, Turbofan),
// deoptimizes some of them with a type change, and drops them so the GC frees their code.
const seconds = Number(process.argv[2] ?? 10);
const end = Date.now() + seconds * 1000;
let acc = 0;
let made = 0;
while (Date.now() < end) {
  for (let k = 0; k < 20; k++, made++) {
    const f = new Function('a', 'b', `let s = ${made}; for (let i = 0; i < a; i++) { s = (s * 31 + i * b + ${k}) | 0; if ((s & 1023) === ${k}) s ^= b.length ?? 1; } return s;`);
    for (let j = 0; j < 300; j++) acc ^= f(60, j);
    acc ^= f(3, 'deopt');
    for (let j = 0; j < 50; j++) acc ^= f(60, j);
  }
}
console.log(`jit: ${made} functions, ${acc}`);
