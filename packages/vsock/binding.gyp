{
  "targets": [
    {
      "target_name": "vsock",
      "sources": ["src/addon/vsock.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
