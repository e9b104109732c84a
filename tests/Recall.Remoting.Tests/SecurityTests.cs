using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Recall.Actors;
using Recall.Remoting.TestNode;

namespace Recall.Remoting.Tests;

public sealed class SecurityTests
{
    [Fact]
    public void Listening_on_a_non_loopback_address_without_a_certificate_is_a_startup_error_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => ActorSystem.Create("a", o => o.UseRemoting(r => r.Listen("0.0.0.0", 7400))));

        Assert.Contains("RemotingOptions.Host", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseCertificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nodes_with_certificates_of_the_cluster_ca_talk_over_mutual_tls()
    {
        using var ca = TestCertificates.Authority("CN=Recall Test Cluster CA");
        await using var nodes = new Nodes();
        var a = nodes.Start("a", r => r.UseCertificate(TestCertificates.Node("CN=a", ca), ca));
        var b = nodes.Start("b", r => r.UseCertificate(TestCertificates.Node("CN=b", ca), ca));
        a.Spawn(Props.Create(() => new Echo()), "echo");

        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);

        Assert.Equal(new Ping(1), await echo.Ask<Ping>(new Ping(1), Nodes.Timeout));
    }

    [Fact]
    public async Task A_node_whose_certificate_another_ca_signed_is_refused_before_any_message_is_read()
    {
        using var ca = TestCertificates.Authority("CN=Recall Test Cluster CA");
        using var otherCa = TestCertificates.Authority("CN=Somebody Else CA");
        await using var nodes = new Nodes();
        var a = nodes.Start("a", r => r.UseCertificate(TestCertificates.Node("CN=a", ca), ca));
        var intruder = nodes.Start("intruder", r => r.UseCertificate(TestCertificates.Node("CN=intruder", otherCa), otherCa));
        a.Spawn(Props.Create(() => new Sink()), "sink");

        var refused = await Assert.ThrowsAsync<ActorNotFoundException>(() => intruder.ResolveAsync($"{a.Address}/user/sink", TimeSpan.FromSeconds(3)));
        Assert.Contains("did not answer", refused.Message, StringComparison.Ordinal);
        intruder.ResolvePath(ActorPath.Parse($"{a.Address}/user/sink")).Tell(new Sequenced(0, 0), null);

        var sink = a.ResolvePath(ActorPath.Parse($"{a.Address}/user/sink"));
        Assert.Equal(new Counted(0, 0), await sink.Ask<Counted>(new CountPlease(1), Nodes.Timeout));
        Assert.All(intruder.Remoting().Peers, p => Assert.False(p.IsConnected));
    }

    [Fact]
    public async Task A_client_without_a_certificate_is_refused()
    {
        using var ca = TestCertificates.Authority("CN=Recall Test Cluster CA");
        await using var nodes = new Nodes();
        var a = nodes.Start("a", r => r.UseCertificate(TestCertificates.Node("CN=a", ca), ca));

        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.Issuer == ca.Subject; // it trusts the server, but has nothing to show
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{a.Address.Port}", new GrpcChannelOptions { HttpHandler = handler });
        var headers = new Metadata { { "recall-from", "recall://x@127.0.0.1:1" }, { "recall-from-incarnation", "1" }, { "recall-to", a.Address.ToString() } };
        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(Internal.Transport.Stream, null, new CallOptions(headers));

        // The stream's headers are valid, so the node's handler would accept it: failing here means TLS refused it. Whether the
        // client sees the refusal while connecting (Unavailable) or as a reset of its first request (Internal) depends on the TLS version and timing.
        var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseHeadersAsync);
        Assert.Contains(refused.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
        Assert.Empty(a.Remoting().Peers);
    }
}

/// <summary>A throwaway certificate authority and node certificates signed by it.</summary>
internal static class TestCertificates
{
    public static X509Certificate2 Authority(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    public static X509Certificate2 Node(string subject, X509Certificate2 authority)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var serial = new byte[12];
        RandomNumberGenerator.Fill(serial);
        using var signed = request.Create(authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
    }
}
