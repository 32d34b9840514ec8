using GruOperator.Api;
using GruOperator.Serving;
using GruOperator.Tests.Support;
using GruServing.Contract.Serving;
using GruOperator.Traffic;

namespace GruOperator.Tests.Traffic;

public sealed class TrackServicesTests
{
    private static readonly ServingDefaults Defaults = new("img", "fetcher", "gru-operator");

    [Fact]
    public void EachTrackServiceSelectsOnlyItsTrackWithTheModelServicesPortsAndOwner()
    {
        var model = Models.Cpu("m", "ml");
        model.Spec.Serving!.Sessions = new SessionsSpec { Mode = SessionMode.Stateful };

        var services = TrackServices.Build(model, Defaults);

        Assert.Equal(["m-stable", "m-canary"], services.Select(s => s.Metadata.Name));
        var shared = ServingWorkloadBuilder.BuildService(model, Defaults);
        foreach (var (service, track) in services.Zip(new[] { "stable", "canary" }))
        {
            Assert.Equal(new Dictionary<string, string> { [Labels.Model] = "m", [Labels.Track] = track }, service.Spec.Selector);
            Assert.Equal(track, service.Metadata.Labels[Labels.Track]);
            Assert.Equal("ml", service.Metadata.NamespaceProperty);
            Assert.Equal(shared.Spec.Ports.Select(p => (p.Name, p.Port)), service.Spec.Ports.Select(p => (p.Name, p.Port)));
            Assert.Equal("ClientIP", service.Spec.SessionAffinity);
            Assert.Equal("uid-m", Assert.Single(service.Metadata.OwnerReferences).Uid);
        }
        // The model's own Service still spans both tracks.
        Assert.False(shared.Spec.Selector.ContainsKey(Labels.Track));
    }
}
