// File helpers. Every output cfx writes goes through write_atomic so a killed run
// never leaves a half-written file.
#pragma once

#include <string>
#include <vector>

namespace cfx {

/// Reads a whole file; throws cfx::Error naming the path if it is missing or unreadable.
std::string read_file(const std::string& path);

/// Writes `bytes` to `path` via a temporary file in the same folder and a rename.
/// Throws cfx::Error if the folder is missing or unwritable.
void write_atomic(const std::string& path, const std::string& bytes);

/// Removes the temporary files of write_atomic calls that a killed process left in `dir`
/// (".tmp.<name>.<pid>.<n>" whose process is gone); files of live writers stay.
void remove_stale_temporaries(const std::string& dir);

/// Creates `dir` (and parents) and checks that a file can be created in it, then removes
/// the temporaries killed writers left there (remove_stale_temporaries).
/// Throws cfx::Error with the path if not.
void ensure_writable_dir(const std::string& dir);

/// True if `path` names an existing regular file.
bool is_file(const std::string& path);

/// True if `path` names an existing directory.
bool is_dir(const std::string& path);

}  // namespace cfx
