# The patch metadata of kyaml's built-in Kubernetes schema: per definition,
# the fields that lead to another definition or carry patch extensions.
def tref: sub("^#/definitions/"; "");
def shape:
  if ."$ref" then {type: (."$ref" | tref)}
  elif .items."$ref" then {type: (.items."$ref" | tref)}
  elif (.additionalProperties | type) == "object" and .additionalProperties."$ref"
    then {type: (.additionalProperties."$ref" | tref), map: true}
  else {} end;
def meta:
  (if ."x-kubernetes-patch-strategy" then {strategy: ."x-kubernetes-patch-strategy"} else {} end)
  + (if ."x-kubernetes-patch-merge-key" then {mergeKey: ."x-kubernetes-patch-merge-key"} else {} end)
  + (if ."x-kubernetes-list-map-keys" then {listMapKeys: ."x-kubernetes-list-map-keys"} else {} end);
{
  kinds: [.definitions | to_entries[] | .key as $t | (.value."x-kubernetes-group-version-kind" // [])[]
          | {apiVersion: (if .group == "" then .version else .group + "/" + .version end), kind, type: $t}]
         | sort_by(.apiVersion, .kind),
  types: (.definitions | with_entries(.value |= (
      (.properties // {}) | with_entries(.value |= (shape + meta)) | with_entries(select(.value != {}))
    )) | with_entries(select(.value != {})))
}
