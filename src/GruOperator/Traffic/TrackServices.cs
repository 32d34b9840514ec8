using GruOperator.Api;
using GruOperator.Serving;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Traffic;

/// <summary>
/// The per-track Services <c>NAME-stable</c> and <c>NAME-canary</c> that a Gateway API route's backendRefs name: the
/// model's Service (same ports, session affinity, labels and owner) narrowed to one track by its selector. Pure.
/// </summary>
internal static class TrackServices
{
    /// <summary>The Service of one track of <paramref name="model"/>.</summary>
    public static string Name(string model, string track) => $"{model}-{track}";

    /// <summary>The stable and canary Services of <paramref name="model"/>.</summary>
    public static IReadOnlyList<V1Service> Build(GruModel model, ServingDefaults defaults) =>
        [For(model, Tracks.StableLabel, defaults), For(model, Tracks.CanaryLabel, defaults)];

    /// <summary>The Service selecting only <paramref name="track"/>'s pods of <paramref name="model"/>.</summary>
    public static V1Service For(GruModel model, string track, ServingDefaults defaults)
    {
        // One shape for every Service of a model: start from the model's own and narrow it, so ports and affinity never diverge.
        var service = ServingWorkloadBuilder.BuildService(model, defaults);
        service.Metadata.Name = Name(model.Metadata.Name, track);
        service.Metadata.Labels[Labels.Track] = track;
        service.Spec.Selector[Labels.Track] = track;
        return service;
    }
}
