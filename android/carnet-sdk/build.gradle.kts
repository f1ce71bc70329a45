// Android library build of the same sources Maven tests on the JVM. The
// native libraries come from cargo-ndk (see README):
//   cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 \
//     -o android/carnet-sdk/src/main/jniLibs build --release -p carnet-mobile
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "fr.carnet.sdk"
    compileSdk = 35
    defaultConfig { minSdk = 26 }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    sourceSets["main"].jniLibs.srcDirs("src/main/jniLibs")
}

kotlin { jvmToolchain(17) }

dependencies {
    api("net.java.dev.jna:jna:5.17.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")
}
