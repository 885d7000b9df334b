/*
 * OcspClient: a tiny TLS client that decides like a JDK application configured
 * for OCSP (products/java.toml). Written against OpenJDK 17.
 *
 * Usage: java OcspClient HOST PORT TRUST.pem [SECONDS]
 *
 * Trust: every certificate of TRUST.pem is a trust anchor (a keystore made in
 * memory: the JDK's cacerts play no part). Revocation: the JDK's own PKIX
 * revocation checker (java.security.cert.PKIXRevocationChecker, from the PKIX
 * CertPathBuilder), OCSP only (Option.NO_FALLBACK: no CRL), hard fail (no
 * Option.SOFT_FAIL), for every certificate of the path (no ONLY_END_ENTITY),
 * from the AIA OCSP URL. The same switches a JDK application turns on without
 * code are set too: Security property ocsp.enable=true and system property
 * com.sun.net.ssl.checkRevocation=true. A stapled answer (status_request,
 * which the JDK's client sends by default) is handed by JSSE to the same
 * checker, which then asks no responder.
 *
 * Not checked: the host name (no endpoint identification): the lab's model
 * does not judge names, and a difference there would hide the OCSP ones.
 *
 * Exit 0 when the handshake completed and data flowed (the server's first
 * line was read, and a line sent back); 1 with the reason on stderr when the
 * JDK refused (the cause chain, innermost last: CertPathValidatorException's
 * reason says revoked, unknown, ...); 2 for bad arguments.
 */

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.Security;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertPathValidatorException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.PKIXRevocationChecker;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.EnumSet;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public final class OcspClient {
    private OcspClient() {}

    public static void main(String[] args) {
        if (args.length < 3 || args.length > 4) {
            System.err.println("usage: java OcspClient HOST PORT TRUST.pem [SECONDS]");
            System.exit(2);
        }
        String host = args[0];
        int port;
        int millis;
        try {
            port = Integer.parseInt(args[1]);
            millis = (args.length == 4 ? Integer.parseInt(args[3]) : 10) * 1000;
        } catch (NumberFormatException e) {
            System.err.println("PORT and SECONDS must be numbers: " + e.getMessage());
            System.exit(2);
            return;
        }
        // Must come before the first PKIX use: the JDK reads them once.
        Security.setProperty("ocsp.enable", "true");
        System.setProperty("com.sun.net.ssl.checkRevocation", "true");
        try {
            SSLContext context = context(args[2]);
            try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
                socket.connect(new InetSocketAddress(host, port), millis);
                socket.setSoTimeout(millis);
                socket.startHandshake();
                System.out.println("handshake completed: " + socket.getSession().getProtocol()
                        + " " + socket.getSession().getCipherSuite());
                X509Certificate leaf =
                        (X509Certificate) socket.getSession().getPeerCertificates()[0];
                System.out.println("server certificate: " + leaf.getSubjectX500Principal()
                        + " serial " + leaf.getSerialNumber().toString(16));
                BufferedReader in = new BufferedReader(
                        new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                String line = in.readLine();
                System.out.println("received: " + line);
                OutputStream out = socket.getOutputStream();
                out.write("hello from java\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
                // An orderly end: close_notify (TLS 1.3 half-close, RFC 8446 6.1), then
                // the server's. A plain close() while the server may still write sends
                // user_canceled first, which the endpoint rightly records as an alert.
                socket.shutdownOutput();
                while (in.read() != -1) {
                    // drain until the server's close_notify
                }
                if (line == null) {
                    System.err.println("refused: the server closed before sending data");
                    System.exit(1);
                }
            }
        } catch (Exception e) {
            System.err.println("refused: " + e);
            for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
                String reason = "";
                if (cause instanceof CertPathValidatorException) {
                    reason = " [reason " + ((CertPathValidatorException) cause).getReason() + "]";
                }
                System.err.println("  caused by: " + cause + reason);
            }
            System.exit(1);
        }
        System.exit(0);
    }

    /** A TLS context trusting exactly the certificates of trustFile, revocation by OCSP. */
    private static SSLContext context(String trustFile) throws Exception {
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        Collection<? extends Certificate> anchors;
        try (InputStream in = new FileInputStream(trustFile)) {
            anchors = factory.generateCertificates(in);
        }
        if (anchors.isEmpty()) {
            throw new IllegalArgumentException(trustFile + ": no certificate in it");
        }
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        int index = 0;
        for (Certificate anchor : anchors) {
            store.setCertificateEntry("lab-trust-" + index++, anchor);
        }
        CertPathBuilder builder = CertPathBuilder.getInstance("PKIX");
        PKIXRevocationChecker checker = (PKIXRevocationChecker) builder.getRevocationChecker();
        checker.setOptions(EnumSet.of(PKIXRevocationChecker.Option.NO_FALLBACK));
        PKIXBuilderParameters parameters = new PKIXBuilderParameters(store, new X509CertSelector());
        parameters.setRevocationEnabled(true);
        parameters.addCertPathChecker(checker);
        TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
        trust.init(new CertPathTrustManagerParameters(parameters));
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }
}
