// Host-CPU oracle for the ALU semantics tests.
//
// Runs every ALU form natively (inline asm) on seeded random operands with
// random incoming arithmetic flags, and writes one JSON fixture per mnemonic
// into the directory given as argv[1]. Rebuild with ./generate.sh.
//
// Fixture format: {"op": NAME, "host": CPU, "cases": [[size, a, b, fin, res, fout] ...]}
// (mul: [size, a, b, fin, lo, hi, fout]) where a/b/res/lo/hi are hex strings of
// the operand-size values (unsigned), fin/fout are RFLAGS masked to
// CF|PF|AF|ZF|SF|OF (0x8d5). For shifts and rotates b is the count (CL, 0..255).
// For unary forms b is "0". Build with -mno-red-zone: the asm pushes.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARITH 0x8d5ull
#define N 300

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
  return state * 0x2545f4914f6cdd1dull;
}
static uint64_t mask_of(int size) { return size == 8 ? ~0ull : ((1ull << (size * 8)) - 1); }
// Operands: mostly random, often edge values so every flag path is exercised.
static uint64_t operand(int size) {
  uint64_t m = mask_of(size), sign = 1ull << (size * 8 - 1);
  uint64_t r = rnd();
  switch (rnd() % 12) {
    case 0: return 0;
    case 1: return 1;
    case 2: return m;                       // -1
    case 3: return sign;                    // min signed
    case 4: return sign - 1;                // max signed
    case 5: return r & 0xff;                // small
    case 6: return (sign + (r & 0xf) - 8) & m; // near the sign boundary
    case 7: return (0x0f + (r & 1)) & m;    // AF boundary
    default: return r & m;
  }
}
static uint64_t flags_in(void) { return rnd() & ARITH; }
static uint64_t count(void) {
  switch (rnd() % 4) {
    case 0: return 0;
    case 1: return 1;
    default: return rnd() & 0xff;
  }
}

typedef void (*binfn)(uint64_t a, uint64_t b, uint64_t fin, uint64_t *res, uint64_t *fout);

#define PRE "pushq %[fin]\n\tpopfq\n\t"
#define POST "\n\tpushfq\n\tpopq %[f]"

// op src, dst (AT&T): dst = dst OP src
#define BIN(NAME, INSN, T)                                                                  \
  static void NAME(uint64_t a, uint64_t b, uint64_t fin, uint64_t *res, uint64_t *fout) {  \
    T x = (T)a, y = (T)b; uint64_t f;                                                       \
    __asm__ volatile(PRE INSN " %[y], %[x]" POST                                            \
                     : [x] "+r"(x), [f] "=&r"(f) : [y] "r"(y), [fin] "r"(fin) : "cc");      \
    *res = (uint64_t)x; *fout = f;                                                          \
  }
// op dst
#define UN(NAME, INSN, T)                                                                   \
  static void NAME(uint64_t a, uint64_t b, uint64_t fin, uint64_t *res, uint64_t *fout) {  \
    T x = (T)a; uint64_t f; (void)b;                                                        \
    __asm__ volatile(PRE INSN " %[x]" POST : [x] "+r"(x), [f] "=&r"(f) : [fin] "r"(fin) : "cc"); \
    *res = (uint64_t)x; *fout = f;                                                          \
  }
// op %cl, dst
#define SH(NAME, INSN, T)                                                                   \
  static void NAME(uint64_t a, uint64_t b, uint64_t fin, uint64_t *res, uint64_t *fout) {  \
    T x = (T)a; uint8_t c = (uint8_t)b; uint64_t f;                                         \
    __asm__ volatile(PRE INSN " %%cl, %[x]" POST                                            \
                     : [x] "+r"(x), [f] "=&r"(f) : "c"(c), [fin] "r"(fin) : "cc");          \
    *res = (uint64_t)x; *fout = f;                                                          \
  }

#define SIZES3(M, op) M(op##8, #op "b", uint8_t) M(op##32, #op "l", uint32_t) M(op##64, #op "q", uint64_t)
SIZES3(BIN, add) SIZES3(BIN, or) SIZES3(BIN, adc) SIZES3(BIN, sbb) SIZES3(BIN, and)
SIZES3(BIN, sub) SIZES3(BIN, xor) SIZES3(BIN, cmp) SIZES3(BIN, test)
SIZES3(UN, inc) SIZES3(UN, dec) SIZES3(UN, neg) SIZES3(UN, not)
SIZES3(SH, shl) SIZES3(SH, shr) SIZES3(SH, sar) SIZES3(SH, rol) SIZES3(SH, ror)
BIN(imul16, "imulw", uint16_t) BIN(imul32, "imull", uint32_t) BIN(imul64, "imulq", uint64_t)
BIN(add16, "addw", uint16_t) BIN(sub16, "subw", uint16_t)

// mul: AL*src -> AX, EAX*src -> EDX:EAX, RAX*src -> RDX:RAX
static void mul8(uint64_t a, uint64_t b, uint64_t fin, uint64_t *lo, uint64_t *hi, uint64_t *fout) {
  uint16_t ax = (uint8_t)a; uint8_t y = (uint8_t)b; uint64_t f;
  __asm__ volatile(PRE "mulb %[y]" POST : "+a"(ax), [f] "=&r"(f) : [y] "q"(y), [fin] "r"(fin) : "cc");
  *lo = ax & 0xff; *hi = ax >> 8; *fout = f;
}
static void mul32(uint64_t a, uint64_t b, uint64_t fin, uint64_t *lo, uint64_t *hi, uint64_t *fout) {
  uint32_t ax = (uint32_t)a, dx; uint32_t y = (uint32_t)b; uint64_t f;
  __asm__ volatile(PRE "mull %[y]" POST : "+a"(ax), "=d"(dx), [f] "=&r"(f) : [y] "r"(y), [fin] "r"(fin) : "cc");
  *lo = ax; *hi = dx; *fout = f;
}
static void mul64(uint64_t a, uint64_t b, uint64_t fin, uint64_t *lo, uint64_t *hi, uint64_t *fout) {
  uint64_t ax = a, dx, y = b, f;
  __asm__ volatile(PRE "mulq %[y]" POST : "+a"(ax), "=d"(dx), [f] "=&r"(f) : [y] "r"(y), [fin] "r"(fin) : "cc");
  *lo = ax; *hi = dx; *fout = f;
}

static const char *cpu_name(void) {
  static char name[128] = "unknown";
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  if (!f) return name;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *p = strchr(line, ':');
      if (p) { p += 2; p[strcspn(p, "\n")] = 0; snprintf(name, sizeof name, "%s", p); }
      break;
    }
  }
  fclose(f);
  return name;
}

enum { K_BIN, K_UN, K_SH };

static FILE *open_fixture(const char *dir, const char *op) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.json", dir, op);
  FILE *f = fopen(path, "w");
  if (!f) { perror(path); exit(1); }
  fprintf(f, "{\"op\":\"%s\",\"host\":\"%s\",\"cases\":[", op, cpu_name());
  return f;
}

static void gen(const char *dir, const char *op, int kind, binfn f8, binfn f16, binfn f32, binfn f64) {
  FILE *f = open_fixture(dir, op);
  binfn fns[4] = {f8, f16, f32, f64};
  int sizes[4] = {1, 2, 4, 8};
  int first = 1;
  for (int s = 0; s < 4; s++) {
    if (!fns[s]) continue;
    int size = sizes[s];
    for (int i = 0; i < N; i++) {
      uint64_t a = operand(size);
      uint64_t b = kind == K_BIN ? ((rnd() & 7) == 0 ? a : operand(size)) : kind == K_SH ? count() : 0;
      uint64_t fin = flags_in(), res, fout;
      fns[s](a, b, fin, &res, &fout);
      fprintf(f, "%s\n[%d,\"%llx\",\"%llx\",%llu,\"%llx\",%llu]", first ? "" : ",", size, (unsigned long long)a,
              (unsigned long long)b, (unsigned long long)fin, (unsigned long long)(res & mask_of(size)),
              (unsigned long long)(fout & ARITH));
      first = 0;
    }
  }
  fprintf(f, "\n]}\n");
  fclose(f);
}

static void gen_mul(const char *dir) {
  FILE *f = open_fixture(dir, "mul");
  void (*fns[3])(uint64_t, uint64_t, uint64_t, uint64_t *, uint64_t *, uint64_t *) = {mul8, mul32, mul64};
  int sizes[3] = {1, 4, 8};
  int first = 1;
  for (int s = 0; s < 3; s++) {
    for (int i = 0; i < N; i++) {
      int size = sizes[s];
      uint64_t a = operand(size), b = operand(size), fin = flags_in(), lo, hi, fout;
      fns[s](a, b, fin, &lo, &hi, &fout);
      fprintf(f, "%s\n[%d,\"%llx\",\"%llx\",%llu,\"%llx\",\"%llx\",%llu]", first ? "" : ",", size,
              (unsigned long long)a, (unsigned long long)b, (unsigned long long)fin, (unsigned long long)lo,
              (unsigned long long)hi, (unsigned long long)(fout & ARITH));
      first = 0;
    }
  }
  fprintf(f, "\n]}\n");
  fclose(f);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  gen(dir, "add", K_BIN, add8, add16, add32, add64);
  gen(dir, "or", K_BIN, or8, 0, or32, or64);
  gen(dir, "adc", K_BIN, adc8, 0, adc32, adc64);
  gen(dir, "sbb", K_BIN, sbb8, 0, sbb32, sbb64);
  gen(dir, "and", K_BIN, and8, 0, and32, and64);
  gen(dir, "sub", K_BIN, sub8, sub16, sub32, sub64);
  gen(dir, "xor", K_BIN, xor8, 0, xor32, xor64);
  gen(dir, "cmp", K_BIN, cmp8, 0, cmp32, cmp64);
  gen(dir, "test", K_BIN, test8, 0, test32, test64);
  gen(dir, "inc", K_UN, inc8, 0, inc32, inc64);
  gen(dir, "dec", K_UN, dec8, 0, dec32, dec64);
  gen(dir, "neg", K_UN, neg8, 0, neg32, neg64);
  gen(dir, "not", K_UN, not8, 0, not32, not64);
  gen(dir, "shl", K_SH, shl8, 0, shl32, shl64);
  gen(dir, "shr", K_SH, shr8, 0, shr32, shr64);
  gen(dir, "sar", K_SH, sar8, 0, sar32, sar64);
  gen(dir, "rol", K_SH, rol8, 0, rol32, rol64);
  gen(dir, "ror", K_SH, ror8, 0, ror32, ror64);
  gen(dir, "imul", K_BIN, 0, imul16, imul32, imul64);
  gen_mul(dir);
  return 0;
}
