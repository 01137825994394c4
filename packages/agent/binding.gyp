{
  "targets": [
    {
      "target_name": "sys",
      "sources": ["src/addon/sys.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
