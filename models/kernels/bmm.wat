;; Batched matrix product C[t] = op(A[t]) · B[t] for t < batch, in float32, over the memory of
;; TF.js's wasm backend (imported, so tensors are read and written where they lie).
;;
;; A is [batch, M, K] row-major, or [batch, K, M] when aT = 1 (then op(A) is its transpose);
;; B is [batch, K, N] and C is [batch, M, N], both row-major. Pointers are byte offsets.
;;
;; The product runs in tiles of 4 rows × 4 columns: for each k, four values of A are broadcast
;; and multiplied by one 4-wide row slice of B into four SIMD accumulators. Rows past the last
;; multiple of 4 run one at a time in 4-wide column slices (one query row in generation);
;; columns past the last multiple of 4 are dot products, in SIMD lanes where both operands are
;; contiguous (N = 1 with op(A) untransposed: scores as K · qᵀ in generation).
(module
  (import "env" "memory" (memory 0))

  ;; Dot product of K terms: A from pa by step sa, B from pb by step sb (bytes). Where both
  ;; steps are 4 (contiguous), four terms at a time in SIMD lanes, then the rest one by one.
  (func $dot (param $pa i32) (param $pb i32) (param $K i32) (param $sa i32) (param $sb i32)
    (result f32)
    (local $s f32) (local $v v128)
    (if (i32.and (i32.eq (local.get $sa) (i32.const 4)) (i32.eq (local.get $sb) (i32.const 4)))
      (then
        (block $vdone
          (loop $vk
            (br_if $vdone (i32.lt_u (local.get $K) (i32.const 4)))
            (local.set $v (f32x4.add (local.get $v)
              (f32x4.mul (v128.load align=4 (local.get $pa)) (v128.load align=4 (local.get $pb)))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
            (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
            (local.set $K (i32.sub (local.get $K) (i32.const 4)))
            (br $vk)))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
          (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))))
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $K)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pb)))))
        (local.set $pa (i32.add (local.get $pa) (local.get $sa)))
        (local.set $pb (i32.add (local.get $pb) (local.get $sb)))
        (local.set $K (i32.sub (local.get $K) (i32.const 1)))
        (br $k)))
    (local.get $s))

  ;; One row of C, columns j0.. in 4-wide SIMD slices, then the rest by $dot: pa is op(A)'s
  ;; row, pb B's first column, pc C's row.
  (func $row (param $pa i32) (param $pb i32) (param $pc i32) (param $K i32) (param $N i32)
    (param $ak i32) (param $bk i32)
    (local $j i32) (local $k i32) (local $qa i32) (local $qb i32) (local $acc v128)
    (block $cols_done
      (loop $cols
        (br_if $cols_done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $N)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $qa (local.get $pa))
        (local.set $qb (i32.add (local.get $pb) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $k (local.get $K))
        (block $k_done
          (loop $ks
            (br_if $k_done (i32.eqz (local.get $k)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (f32x4.splat (f32.load (local.get $qa))) (v128.load align=4 (local.get $qb)))))
            (local.set $qa (i32.add (local.get $qa) (local.get $ak)))
            (local.set $qb (i32.add (local.get $qb) (local.get $bk)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $ks)))
        (v128.store align=4 (i32.add (local.get $pc) (i32.shl (local.get $j) (i32.const 2))) (local.get $acc))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $cols)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $j) (local.get $N)))
        (f32.store (i32.add (local.get $pc) (i32.shl (local.get $j) (i32.const 2)))
          (call $dot (local.get $pa) (i32.add (local.get $pb) (i32.shl (local.get $j) (i32.const 2)))
            (local.get $K) (local.get $ak) (local.get $bk)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $tail))))

  (func (export "bmm") (param $a i32) (param $b i32) (param $c i32) (param $batch i32)
    (param $M i32) (param $K i32) (param $N i32) (param $aT i32)
    (local $t i32) (local $i i32) (local $j i32) (local $k i32) (local $r i32)
    (local $ar i32)   ;; bytes between rows i of op(A)
    (local $ak i32)   ;; bytes between k of op(A)
    (local $bk i32)   ;; bytes between rows k of B (4N)
    (local $cr i32)   ;; bytes between rows of C (4N)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $pai i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $vb v128)
    (local.set $bk (i32.shl (local.get $N) (i32.const 2)))
    (local.set $cr (local.get $bk))
    (if (local.get $aT)
      (then
        (local.set $ar (i32.const 4))
        (local.set $ak (i32.shl (local.get $M) (i32.const 2))))
      (else
        (local.set $ar (i32.shl (local.get $K) (i32.const 2)))
        (local.set $ak (i32.const 4))))
    (block $batches_done
      (loop $batches
        (br_if $batches_done (i32.ge_u (local.get $t) (local.get $batch)))
        ;; Row tiles of 4.
        (local.set $i (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $M)))
            (local.set $pai (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ar))))
            (local.set $j (i32.const 0))
            (block $cols_done
              (loop $cols
                (br_if $cols_done (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $N)))
                (local.set $c0 (v128.const f32x4 0 0 0 0))
                (local.set $c1 (v128.const f32x4 0 0 0 0))
                (local.set $c2 (v128.const f32x4 0 0 0 0))
                (local.set $c3 (v128.const f32x4 0 0 0 0))
                (local.set $pa (local.get $pai))
                (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
                (local.set $k (local.get $K))
                (block $k_done
                  (loop $ks
                    (br_if $k_done (i32.eqz (local.get $k)))
                    (local.set $vb (v128.load align=4 (local.get $pb)))
                    (local.set $c0 (f32x4.add (local.get $c0)
                      (f32x4.mul (f32x4.splat (f32.load (local.get $pa))) (local.get $vb))))
                    (local.set $c1 (f32x4.add (local.get $c1)
                      (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $pa) (local.get $ar))))
                        (local.get $vb))))
                    (local.set $c2 (f32x4.add (local.get $c2)
                      (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $pa)
                        (i32.shl (local.get $ar) (i32.const 1))))) (local.get $vb))))
                    (local.set $c3 (f32x4.add (local.get $c3)
                      (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $pa)
                        (i32.mul (local.get $ar) (i32.const 3))))) (local.get $vb))))
                    (local.set $pa (i32.add (local.get $pa) (local.get $ak)))
                    (local.set $pb (i32.add (local.get $pb) (local.get $bk)))
                    (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                    (br $ks)))
                (local.set $pc (i32.add (local.get $c)
                  (i32.shl (i32.add (i32.mul (local.get $i) (local.get $N)) (local.get $j)) (i32.const 2))))
                (v128.store align=4 (local.get $pc) (local.get $c0))
                (local.set $pc (i32.add (local.get $pc) (local.get $cr)))
                (v128.store align=4 (local.get $pc) (local.get $c1))
                (local.set $pc (i32.add (local.get $pc) (local.get $cr)))
                (v128.store align=4 (local.get $pc) (local.get $c2))
                (local.set $pc (i32.add (local.get $pc) (local.get $cr)))
                (v128.store align=4 (local.get $pc) (local.get $c3))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $cols)))
            ;; Columns past the last multiple of 4, for these 4 rows.
            (block $tail_done
              (loop $tail
                (br_if $tail_done (i32.ge_u (local.get $j) (local.get $N)))
                (local.set $r (i32.const 0))
                (block $tr_done
                  (loop $tr
                    (br_if $tr_done (i32.ge_u (local.get $r) (i32.const 4)))
                    (f32.store
                      (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (local.get $r))
                        (local.get $N)) (local.get $j)) (i32.const 2)))
                      (call $dot
                        (i32.add (local.get $pai) (i32.mul (local.get $r) (local.get $ar)))
                        (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))
                        (local.get $K) (local.get $ak) (local.get $bk)))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br $tr)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $tail)))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $rows)))
        ;; Rows past the last multiple of 4, one at a time.
        (block $rt_done
          (loop $rt
            (br_if $rt_done (i32.ge_u (local.get $i) (local.get $M)))
            (call $row
              (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ar)))
              (local.get $b)
              (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $cr)))
              (local.get $K) (local.get $N) (local.get $ak) (local.get $bk))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $rt)))
        ;; Next batch entry.
        (local.set $a (i32.add (local.get $a) (i32.shl (i32.mul (local.get $M) (local.get $K)) (i32.const 2))))
        (local.set $b (i32.add (local.get $b) (i32.mul (local.get $K) (local.get $bk))))
        (local.set $c (i32.add (local.get $c) (i32.mul (local.get $M) (local.get $cr))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $batches)))))
