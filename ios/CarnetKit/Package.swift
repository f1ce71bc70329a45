// swift-tools-version:5.9
// CarnetKit: the uniffi-generated Swift bindings of carnet-mobile plus a
// small async wrapper. On Linux (tests) the Rust library comes from the host
// build through the CarnetMobileFFI system library (module.modulemap links
// `carnet_mobile`; pass -Xlinker -L<dir>). In an iOS app, replace that target
// with the XCFramework built as README describes.
import PackageDescription

let package = Package(
    name: "CarnetKit",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "CarnetKit", targets: ["CarnetKit"]),
    ],
    targets: [
        .systemLibrary(name: "CarnetMobileFFI", path: "Sources/CarnetMobileFFI"),
        .target(name: "CarnetKit", dependencies: ["CarnetMobileFFI"], path: "Sources/CarnetKit"),
        .testTarget(name: "CarnetKitTests", dependencies: ["CarnetKit"], path: "Tests/CarnetKitTests"),
    ]
)
