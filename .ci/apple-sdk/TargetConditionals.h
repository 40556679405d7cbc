/* Stand-in for the one Apple SDK header ring's C includes (include/ring-core/base.h), so
 * that `cargo check`/`clippy` for the macOS targets can run ring's build script on Linux.
 * The SDK is not redistributable and nothing built with this is ever linked or run. */
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
