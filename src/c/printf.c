/* Variadic entry points, which stable Rust cannot define: they format with
 * vsnprintf and hand the bytes to the Rust core. */
