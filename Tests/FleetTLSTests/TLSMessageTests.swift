import Testing

@testable import FleetTLS

/// Library errors become sentences: no BoringSSL or NIOSSL enum text and no build path reaches a user.
@Suite struct TLSMessageTests {
    static let dumps: [(String, TLSFailure.Kind)] = [
        (
            "handshakeFailed(BoringSSLError.sslError([Error: 268435703 error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER at /work/main/.build/checkouts/swift-nio-ssl/Sources/CNIOBoringSSL/ssl/tls_record.cc:231]))",
            .notTLS
        ),
        (
            "handshakeFailed(BoringSSLError.sslError([Error: 268435696 error:100000f0:SSL routines:OPENSSL_internal:UNSUPPORTED_PROTOCOL at /x/.build/checkouts/swift-nio-ssl/Sources/CNIOBoringSSL/ssl/handshake_client.cc:780]))",
            .protocolMismatch
        ),
        (
            "handshakeFailed(BoringSSLError.sslError([Error: 268436496 error:10000410:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE at /x/.build/y.cc:1]))",
            .clientCertificateRequired
        ),
        (
            "handshakeFailed(BoringSSLError.sslError([Error: 268435584 error:10000080:SSL routines:OPENSSL_internal:NO_SHARED_CIPHER at /x/.build/y.cc:1]))",
            .protocolMismatch
        ),
        ("something new happened", .handshake),
    ]

    @Test func libraryErrorsBecomeSentences() {
        for (text, kind) in Self.dumps {
            let failure = TLSFailure.sentence(forLibraryError: text, hasClientCertificate: false, isServer: false)
            #expect(failure.kind == kind, "\(text)")
            for leak in ["/.build/", "BoringSSL", "error:1", "OPENSSL_internal", "sslError", "SSLV3"] {
                #expect(!failure.description.contains(leak), "\(failure.description)")
            }
        }
    }

    @Test func aCNRuleNeedsExactlyOneCommonName() {
        #expect(ClientIdentity(commonNames: ["ops"]).matches("CN=ops"))
        #expect(!ClientIdentity(commonNames: ["ops", "admin"]).matches("CN=ops"))
        #expect(!ClientIdentity(commonNames: ["admin", "ops"]).matches("CN=ops"))
    }
}
