namespace GruServing.Contract.Serving;

/// <summary>
/// GruServer's ports in a pod: the defaults of its --port and --metrics-port, and the container and Service ports the
/// operator writes. One definition, so the server, the operator and the demo cannot drift apart.
/// </summary>
public static class ServerPorts
{
    /// <summary>The Open Inference Protocol's HTTP endpoint (KServe's and Seldon's conventional 8080).</summary>
    public const int Http = 8080;

    /// <summary>The Prometheus /metrics endpoint (OpenTelemetry's Prometheus exporter default, 9464).</summary>
    public const int Metrics = 9464;

    /// <summary>The gRPC endpoint when <c>serving.grpc.enabled</c> (Triton and KServe use 8001/8081; 9000 keeps clear of both).</summary>
    public const int Grpc = 9000;
}
