func.func @forward(%x: i32) -> i32 {
  return %x : i32
}
