package image

import (
	"time"
)

// HistoryItem is one line of `docker history`: newest first.
type HistoryItem struct {
	ID        string // the local image this step produced, or "<missing>"
	Created   time.Time
	CreatedBy string
	Comment   string
	Size      int64 // unpacked size of the step's layer; 0 for empty layers
	Tags      []string
}

// History lists ref's history entries newest first, as Docker's daemon
// does: layer sizes from the unpacked layers, and image IDs along the
// local parent chain (a build's or commit's intermediate images) until it
// ends; older entries are "<missing>".
func (s *Store) History(ref string) ([]HistoryItem, error) {
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	var out []HistoryItem
	layer := 0
	for _, h := range img.Config.History {
		var size int64
		if !h.EmptyLayer && layer < len(img.ChainIDs) {
			if info, err := s.snaps.Stat(img.ChainIDs[layer]); err == nil {
				size = info.Size
			}
			layer++
		}
		out = append([]HistoryItem{{ID: "<missing>", Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment, Size: size}}, out...)
	}
	cur := img
	for i := range out {
		out[i].ID = cur.ID
		out[i].Tags = cur.RepoTags
		if cur.Parent == "" {
			break
		}
		if cur, err = s.Get(cur.Parent); err != nil {
			break
		}
	}
	return out, nil
}
